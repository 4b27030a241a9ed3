import { Gauge, Registry } from 'prom-client';

/** A gauge read when /metrics is scraped. */
export function readGauge(
  registry: Registry,
  name: string,
  help: string,
  read: () => number | Promise<number>,
): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect: async function (this: Gauge) {
      this.set(await read());
    },
  });
}
