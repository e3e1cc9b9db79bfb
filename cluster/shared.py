"""What the nodes of a cluster must count together, in Redis: the login and registration
throttles (a guesser spreading tries over nodes gains nothing) and the console's WebSocket
tickets (a ticket from one node opens a socket on any node behind the load balancer).

Keys hold SHA-256 digests, never the usernames, addresses or tickets themselves, and expire
with their window."""

from __future__ import annotations

import hashlib
import json
import secrets
import time

from redis.asyncio import Redis

from auth.tickets import TICKET_SECONDS, TicketHolder, digest

__all__ = ["RedisTickets", "RedisWindows"]


class RedisWindows:
    """At most `limit` hits per key within `window_seconds`: one sorted set per key, the
    hits' times as scores (`auth.throttle.Windows`)."""

    def __init__(self, redis: Redis, name: str, limit: int, window_seconds: float) -> None:
        self._redis = redis
        self._name = name
        self._limit = limit
        self._window = window_seconds

    def _key(self, key: str) -> str:
        return f"proctor:throttle:{self._name}:{hashlib.sha256(key.encode()).hexdigest()}"

    async def retry_after(self, key: str) -> float:
        now = time.time()
        redis_key = self._key(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(redis_key, "-inf", now - self._window)
            pipe.zrange(redis_key, -self._limit, -self._limit, withscores=True)
            pipe.zcard(redis_key)
            _, oldest, count = await pipe.execute()
        if count < self._limit or not oldest:
            return 0.0
        return max(0.0, float(oldest[0][1]) + self._window - now)

    async def hit(self, key: str) -> None:
        now = time.time()
        redis_key = self._key(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(redis_key, {f"{now:.6f}:{secrets.token_hex(4)}": now})
            pipe.expire(redis_key, int(self._window) + 1)
            await pipe.execute()

    async def clear(self, key: str) -> None:
        await self._redis.delete(self._key(key))


class RedisTickets:
    """Single-use tickets shared by the nodes (`auth.tickets.Tickets`): redeemed with GETDEL,
    so two nodes cannot both accept one."""

    def __init__(self, redis: Redis, ttl_seconds: float = TICKET_SECONDS) -> None:
        self._redis = redis
        self.ttl_seconds = ttl_seconds

    async def issue(self, holder: TicketHolder) -> str:
        ticket = secrets.token_urlsafe(32)
        value = json.dumps({"user_id": holder.user_id, "role": holder.role})
        await self._redis.set(
            f"proctor:ticket:{digest(ticket)}", value, px=int(self.ttl_seconds * 1000)
        )
        return ticket

    async def redeem(self, ticket: str) -> TicketHolder | None:
        raw = await self._redis.getdel(f"proctor:ticket:{digest(ticket)}")
        if raw is None:
            return None
        data = json.loads(raw)
        return TicketHolder(int(data["user_id"]), str(data["role"]))
