import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROCESSES } from '@truceline/workflows';

/** The app services of docker-compose.yml (those running a built entry), in file order. */
function composeApps(): { name: string; command: string }[] {
  const text = readFileSync(join(__dirname, '../../docker-compose.yml'), 'utf8');
  const apps: { name: string; command: string }[] = [];
  let current: string | null = null;
  for (const line of text.split('\n')) {
    const service = /^ {2}([a-z][\w-]*):\s*$/.exec(line);
    if (service) current = service[1];
    // `command: node dist/… [args]` or the exec form `command: ['node', 'dist/…', …]`.
    const command = /^ {4}command: (?:(node dist\/.*?)|\[('node', 'dist\/.*)\])\s*$/.exec(line);
    if (command && current) {
      const exec = command[2]?.split(/,\s*/).map((word) => word.replace(/^'|'$/g, ''));
      apps.push({ name: current, command: exec ? exec.join(' ') : command[1] });
    }
  }
  return apps;
}

describe('docker-compose.yml', () => {
  it('runs exactly the processes of the one list, each with its built entry', () => {
    expect(composeApps()).toEqual(
      PROCESSES.map((p) => ({
        name: p.name,
        command: ['node', `dist/${p.entry}`, ...p.args].join(' '),
      })),
    );
  });
});
