/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from './cli';
import { AgentStore } from './store';
import { readLutFile } from './lut-file';

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

describe('edgenas-agent --precision', () => {
  let dataDir: string;
  const run = async (env: Record<string, string>, ...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: { EDGENAS_DATA_DIR: dataDir, ...env },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-agent-precision-'));
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('refuses a precision other than fp32 or int8, from the flag and from the environment', async () => {
    const flag = await run({}, 'run', '--precision', 'int4', '--once');
    expect(flag.code).not.toBe(0);
    expect(flag.err).toContain('--precision must be fp32 or int8');
    const env = await run({ EDGENAS_AGENT_PRECISION: 'fp16' }, 'status');
    expect(env.code).toBe(2);
    expect(env.err).toContain('EDGENAS_AGENT_PRECISION');
  });

  it('profiles an int8 LUT offline (real ONNX Runtime): the file names the int8 profile', async () => {
    const out = path.join(dataDir, 'lut.json');
    const quick = ['--rounds', '1', '--repeats', '1', '--warmup', '0', '--round-ms', '0'];
    const res = await run(
      { EDGENAS_AGENT_PRECISION: 'int8' },
      'profile',
      '--space',
      'proxy-28',
      '--input',
      '8x8x1',
      '--classes',
      '2',
      '--out',
      out,
      ...quick,
    );
    expect(res.err).toContain('at int8');
    expect(res.code).toBe(0);
    const lut = readLutFile(out);
    expect(lut.profile.precision).toBe('int8');
    expect(lut.profile.name).toMatch(/-cpu-t1-int8$/);
    expect(lut.blocks.length).toBeGreaterThan(0);
  });
});
