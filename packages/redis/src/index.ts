export { connectRedis, masterNodes, type RedisClient } from './connect.ts';
export { startLocalRedis, findRedisServer, freePort, type LocalRedis } from './local.ts';
export { LuaScript } from './lua.ts';
export { startLocalCluster, type LocalCluster } from './local-cluster.ts';
