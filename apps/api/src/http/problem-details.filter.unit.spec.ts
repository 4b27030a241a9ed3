import {
  BadRequestException,
  HttpException,
  Logger,
  NotFoundException,
  PayloadTooLargeException,
  ServiceUnavailableException,
} from '@nestjs/common';
import {
  ConcurrencyError,
  ForbiddenError,
  IllegalStateError,
  NotFoundError,
  TrucelineError,
  ValidationError,
} from '@truceline/domain';
import { ProblemDetailsFilter, toProblem } from './problem-details.filter';

describe(toProblem.name, () => {
  it.each([
    [new ValidationError('bad', [{ field: 'a', message: 'm' }]), 400, 'validation'],
    [new TrucelineError('unauthorized', 'no token'), 401, 'unauthorized'],
    [new ForbiddenError('not yours', 'not-assigned'), 403, 'forbidden'],
    [new NotFoundError('no such incident'), 404, 'not-found'],
    [new IllegalStateError('resolved', 'incident resolved'), 409, 'illegal-state'],
    [new ConcurrencyError('incident-1', 2, 3), 412, 'concurrency'],
    [new TrucelineError('idempotency-conflict', 'reused'), 422, 'idempotency-conflict'],
  ])('maps %p to %d %s', (error, status, code) => {
    const sut = toProblem(error);

    expect(sut).toMatchObject({ status, code, type: `urn:truceline:problem:${code}` });
    expect(sut.detail).toBe(error.message);
  });

  it('carries the bad fields of a 400 and the reason of a 403 or 409', () => {
    expect(toProblem(new ValidationError('bad', [{ field: 'a', message: 'm' }])).errors).toEqual([
      { field: 'a', message: 'm' },
    ]);
    expect(toProblem(new ForbiddenError('no', 'not-assigned')).reason).toBe('not-assigned');
    expect(toProblem(new IllegalStateError('resolved', 'no')).reason).toBe('resolved');
  });

  it.each([
    [new BadRequestException('Unexpected end of JSON input'), 400, 'validation'],
    [new NotFoundException('Cannot GET /x'), 404, 'not-found'],
    [new PayloadTooLargeException('request entity too large'), 413, 'payload-too-large'],
    [new HttpException('teapot', 418), 418, 'i-m-a-teapot'],
  ])('maps Nest %p to %d %s', (exception, status, code) => {
    expect(toProblem(exception)).toEqual({
      type: `urn:truceline:problem:${code}`,
      title: expect.any(String),
      status,
      detail: exception.message,
      code,
    });
  });

  it('reveals nothing of an unexpected error', () => {
    const sut = toProblem(new Error('connection string postgres://secret@db'));

    expect(sut).toEqual({
      type: 'urn:truceline:problem:internal',
      title: 'Internal Server Error',
      status: 500,
      detail: 'Internal Server Error',
      code: 'internal',
    });
  });

  it('keeps the status of a deliberate 5xx', () => {
    expect(toProblem(new ServiceUnavailableException('not ready')).status).toBe(503);
  });
});

describe(ProblemDetailsFilter.name, () => {
  const responseDouble = () => {
    const sent: { status?: number; type?: string; body?: string; headers: Record<string, string> } =
      { headers: {} };
    // Just enough of Fastify's reply.
    const response = {
      sent: false,
      raw: { headersSent: false, end: () => undefined },
      header: (name: string, value: string) => ((sent.headers[name] = value), response),
      code: (status: number) => ((sent.status = status), response),
      type: (type: string) => ((sent.type = type), response),
      send: (body: string) => ((sent.body = body), response),
    };
    const host = { switchToHttp: () => ({ getResponse: () => response }) };
    return { sent, host: host as never };
  };

  it('writes application/problem+json, with a Bearer challenge on 401', () => {
    const sut = new ProblemDetailsFilter();
    const { sent, host } = responseDouble();

    sut.catch(new TrucelineError('unauthorized', 'no token'), host);

    expect(sent.status).toBe(401);
    expect(sent.type).toBe('application/problem+json');
    expect(sent.headers['WWW-Authenticate']).toBe('Bearer');
    expect(JSON.parse(sent.body ?? '')).toMatchObject({ status: 401, detail: 'no token' });
  });

  it('logs unexpected errors only, not expected outcomes', () => {
    const sut = new ProblemDetailsFilter();
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);

    sut.catch(new ConcurrencyError('incident-1', 0, 1), responseDouble().host);
    sut.catch(new ServiceUnavailableException('not ready'), responseDouble().host);
    sut.catch(new TypeError('x is undefined'), responseDouble().host);

    expect(logged).toHaveBeenCalledTimes(1);
    expect(logged.mock.calls[0][0]).toMatch(/TypeError: x is undefined/);
    logged.mockRestore();
  });
});
