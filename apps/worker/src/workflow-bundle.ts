import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { BundleOptions } from '@temporalio/worker';

type WebpackConfiguration = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

/**
 * Resolve `@edgenas/<lib>` in the workflow bundle. The compiled code has its aliases rewritten to relative
 * paths already; the TypeScript sources (tests, ts-node) still use them.
 */
export function addLibraryAliases(config: WebpackConfiguration): WebpackConfiguration {
  const root = resolve(__dirname, '..', '..', '..');
  // every folder under libs/ (the same layout in TypeScript and in compiled JS), so no second list to keep
  const libs = readdirSync(resolve(root, 'libs'), { withFileTypes: true }).filter((d) => d.isDirectory());
  const aliases = Object.fromEntries(
    libs.map((lib) => [`@edgenas/${lib.name}`, resolve(root, 'libs', lib.name, 'src')]),
  );
  const resolveOptions = config.resolve ?? {};
  const existing = resolveOptions.alias;
  return {
    ...config,
    resolve: {
      ...resolveOptions,
      alias: Array.isArray(existing) ? existing : { ...(existing ?? {}), ...aliases },
    },
  };
}
