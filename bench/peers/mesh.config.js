import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';
import { fileURLToPath, URL } from 'node:url';

/**
 * The supergraph Hive Gateway serves in `npm run bench:peers`: TaurusDB's lock calls from
 * openapi.yaml, sent to TAURUSDB_URL (the simulator's origin and region, known only once it
 * listens). The PUT becomes the mutation `setBackupVaultLock`, the GET the query
 * `showBackupVaultLock`.
 */
const endpoint = process.env.TAURUSDB_URL;
if (!endpoint) throw new Error('TAURUSDB_URL must name the TaurusDB origin to compose against');

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('TaurusDB', {
        source: fileURLToPath(new URL('./openapi.yaml', import.meta.url)),
        endpoint,
      }),
    },
  ],
});
