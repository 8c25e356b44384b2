export type { FaultAction, FaultProxy, FaultProxyOptions, FaultRule, ProxiedRequest } from "./fault-proxy.ts";
export { startFaultProxy } from "./fault-proxy.ts";
export type { FilterCase } from "./filter-cases.ts";
export { FILTER_CASES } from "./filter-cases.ts";
export { createTestBucket, testClientOptions, warmUpS3Server } from "./fixtures.ts";
export type {
  HostileCategory,
  HostileItem,
  HostileSandbox,
  HostileSeed,
  SeedHostileStoreOptions,
  SnapshotTreeOptions,
} from "./hostile.ts";
export {
  createHostileSandbox,
  diffTrees,
  HOSTILE_SECRET,
  seedHostileStore,
  snapshotTree,
} from "./hostile.ts";
export type { TestServer } from "./servers.ts";
export { freePort, startDynamoDbServer, startS3Server, uniqueName } from "./servers.ts";
