import { join } from 'node:path';
import { apiBaseUrl, CliError, jwtSecret } from './cli-environment';

const noFile = (): string => {
  throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
};

describe('apiBaseUrl', () => {
  it('defaults to this machine on PORT, else 3000', () => {
    expect(apiBaseUrl(undefined, {})).toBe('http://127.0.0.1:3000');
    expect(apiBaseUrl(undefined, { PORT: '3999' })).toBe('http://127.0.0.1:3999');
  });

  it('takes --url as given, without a trailing slash', () => {
    expect(apiBaseUrl('https://truceline.example/', { PORT: '1' })).toBe(
      'https://truceline.example',
    );
  });

  it('refuses what is not a URL or a port', () => {
    expect(() => apiBaseUrl('localhost:3000', {})).toThrow(/--url/);
    expect(() => apiBaseUrl(undefined, { PORT: 'eighty' })).toThrow(CliError);
  });
});

describe('jwtSecret', () => {
  it('prefers --secret, then TRUCELINE_JWT_SECRET, then the dev secret file', () => {
    const env = { TRUCELINE_JWT_SECRET: 'from-env', TRUCELINE_DATA_DIR: '/srv/data' };
    const readFile = (path: string) =>
      path === join('/srv/data', '.dev-jwt-secret') ? 'dev\n' : noFile();

    expect(jwtSecret('from-flag', env, readFile)).toBe('from-flag');
    expect(jwtSecret(undefined, env, readFile)).toBe('from-env');
    expect(jwtSecret(undefined, { TRUCELINE_DATA_DIR: '/srv/data' }, readFile)).toBe('dev');
  });

  it('looks in ./data when TRUCELINE_DATA_DIR is unset', () => {
    const read: string[] = [];

    jwtSecret(undefined, {}, (path) => {
      read.push(path);
      return 'dev';
    });

    expect(read).toEqual([join('data', '.dev-jwt-secret')]);
  });

  it('says how to provide one when there is none', () => {
    expect(() => jwtSecret(undefined, { TRUCELINE_DATA_DIR: '/nowhere' }, noFile)).toThrow(
      /pass --secret, set TRUCELINE_JWT_SECRET/,
    );
  });
});
