import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from './cli';
import { AgentStore } from './store';

describe('edgenas-agent status without --name', () => {
  let dataDir: string;
  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: { EDGENAS_DATA_DIR: dataDir },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const agentState = (name: string) => AgentStore.open(path.join(dataDir, `agent-${name}`)).close();

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-agent-status-'));
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it("finds the only agent's state in the data dir (npm start's agent is local-cpu, not the host name)", async () => {
    agentState('local-cpu');
    const res = await run('status', '--space', 'proxy-28');
    expect(res.code).toBe(0);
    expect(res.out).toContain(`state:   ${path.join(dataDir, 'agent-local-cpu')}`);
    expect(res.out).toContain('device:  not registered');
  });

  it('asks for --name when several agents keep state there, and --name still picks one', async () => {
    agentState('local-cpu');
    agentState('pi-1t');
    const res = await run('status');
    expect(res.code).toBe(2);
    expect(res.err).toContain('several agents keep state');
    expect(res.err).toContain('local-cpu, pi-1t');
    const named = await run('status', '--name', 'pi-1t');
    expect(named.out).toContain(`state:   ${path.join(dataDir, 'agent-pi-1t')}`);
  });

  it('says there is no state when there is none', async () => {
    const res = await run('status');
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^no agent state in /);
  });
});
