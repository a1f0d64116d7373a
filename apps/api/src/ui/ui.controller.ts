import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Controller, Get, Header, Param, Redirect, StreamableFile } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { RequireAuth } from '../auth/auth';
import { notFound } from '../common/api-error';

/** The dashboard's folder (apps/api/ui), found from the sources or from dist/. */
function uiFolder(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'apps', 'api', 'ui');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`dashboard files (apps/api/ui) not found above ${from}`);
  }
}

/** A file inside an installed package, past its "exports" map (which hides the prebuilt bundles). */
function packageFile(name: string, file: string): string {
  for (const dir of require.resolve.paths(name) ?? []) {
    const path = join(dir, name, file);
    if (existsSync(path)) return path;
  }
  throw new Error(`${name}/${file} not found: is ${name} installed?`);
}

interface Asset {
  readonly path: string;
  readonly type: string;
}

/** Everything the dashboard loads, by URL name: its own files and the charting library from node_modules. */
function assets(): ReadonlyMap<string, Asset> {
  const ui = uiFolder(__dirname);
  const js = 'text/javascript; charset=utf-8';
  return new Map([
    ['index.html', { path: join(ui, 'index.html'), type: 'text/html; charset=utf-8' }],
    ['app.mjs', { path: join(ui, 'app.mjs'), type: js }],
    ['style.css', { path: join(ui, 'style.css'), type: 'text/css; charset=utf-8' }],
    ['vendor/d3.js', { path: packageFile('d3', 'dist/d3.min.js'), type: js }],
    ['vendor/plot.js', { path: packageFile('@observablehq/plot', 'dist/plot.umd.min.js'), type: js }],
  ]);
}

/**
 * The dashboard at /ui: static files, no credentials needed to load them (the page asks for an API key and
 * sends it with every API call). A fixed list of files: no path from the URL reaches the file system.
 */
@ApiExcludeController()
@Controller()
export class UiController {
  private readonly files = assets();

  @Get()
  @RequireAuth('public')
  @Redirect('/ui', 302)
  root(): void {}

  /** Also answers /ui/ (routing is not strict about a trailing slash). */
  @Get('ui')
  @RequireAuth('public')
  @Header('Cache-Control', 'no-cache')
  index(): StreamableFile {
    return this.serve('index.html');
  }

  @Get('ui/vendor/:file')
  @RequireAuth('public')
  @Header('Cache-Control', 'no-cache')
  vendor(@Param('file') file: string): StreamableFile {
    return this.serve(`vendor/${file}`);
  }

  @Get('ui/:file')
  @RequireAuth('public')
  @Header('Cache-Control', 'no-cache')
  file(@Param('file') file: string): StreamableFile {
    return this.serve(file);
  }

  private serve(name: string): StreamableFile {
    const asset = this.files.get(name);
    if (!asset) throw notFound(`no dashboard file "${name}"`, 'file');
    return new StreamableFile(readFileSync(asset.path), { type: asset.type });
  }
}
