export { connectRedis, type RedisClient } from './connect.ts';
export { startLocalRedis, findRedisServer, freePort, type LocalRedis } from './local.ts';
export { LuaScript } from './lua.ts';
