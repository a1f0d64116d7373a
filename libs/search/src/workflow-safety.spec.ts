import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// Temporal workflow code calls this library directly: it may import only the pure entry points.
const ALLOWED = new Set(['@edgenas/search-space', '@edgenas/contracts']);

describe('libs/search imports', () => {
  it('uses no Node modules or heavy libraries, only pure entry points and its own files', () => {
    const sources = readdirSync(__dirname).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'));
    expect(sources.length).toBeGreaterThan(5);
    for (const file of sources) {
      const text = readFileSync(join(__dirname, file), 'utf8');
      const specifiers = [...text.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
      const foreign = specifiers.filter((s) => !s.startsWith('./') && !ALLOWED.has(s));
      expect({ file, foreign }).toEqual({ file, foreign: [] });
    }
  });
});
