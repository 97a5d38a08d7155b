# The tutorial's sleepy third-party API: answers after ?delay= seconds.
#
# It is also the lab's instrument on the far side of the app: it counts the
# requests it holds at once (peak and time-average: by Little's law, what the
# app let through), the answers it served and the ones it dropped, at
# GET /_stats. ?drop=S (0 < S <= 1) is a fault mode: exactly that share of
# such requests (every 1/S-th) waits its delay, then has its connection closed
# without a byte of answer, so a load driver's failure count can be checked.
import asyncio
import math
import os
import time

from aiohttp import web


class Stats:
    def __init__(self):
        self.in_flight = 0
        self.arrived = 0
        self.served = 0
        self.dropped = 0
        # Requests held x seconds, cumulative: its change over a window / the window = the average held.
        self.held_seconds = 0.0
        self.changed_at = time.monotonic()
        # Most held at once since each reader's last read, by reader (?mark=).
        self.peaks = {}
        self.drop_counts = {}

    def _advance(self):
        now = time.monotonic()
        self.held_seconds += self.in_flight * (now - self.changed_at)
        self.changed_at = now

    def enter(self):
        self._advance()
        self.in_flight += 1
        self.arrived += 1
        for mark in self.peaks:
            self.peaks[mark] = max(self.peaks[mark], self.in_flight)

    def leave(self):
        self._advance()
        self.in_flight -= 1

    def drop_this(self, share):
        """Every 1/share-th request asking for this share: floor(k x share) steps up at k."""
        k = self.drop_counts.get(share, 0) + 1
        self.drop_counts[share] = k
        return math.floor(k * share) > math.floor((k - 1) * share)

    def read(self, mark):
        self._advance()
        peak = self.peaks.get(mark, self.in_flight) if mark else None
        if mark:
            self.peaks[mark] = self.in_flight
        return {'at': self.changed_at, 'inFlight': self.in_flight, 'arrived': self.arrived,
                'served': self.served, 'dropped': self.dropped, 'heldSeconds': self.held_seconds,
                'peakSinceMark': peak}


stats = Stats()


async def handle(request):
    delay = float(request.query.get('delay') or 1)
    drop = float(request.query.get('drop') or 0)
    if not 0 <= drop <= 1:
        raise web.HTTPBadRequest(text='drop is a share between 0 and 1')
    stats.enter()
    try:
        await asyncio.sleep(delay)
        if drop and stats.drop_this(drop):
            stats.dropped += 1
            request.transport.close()
            # The handler's answer goes nowhere: the connection is closed.
            return web.Response(status=200)
        stats.served += 1
        return web.Response(text='slow api response')
    finally:
        stats.leave()


async def handle_stats(request):
    return web.json_response(stats.read(request.query.get('mark')))


app = web.Application()
app.add_routes([web.get('/', handle), web.get('/_stats', handle_stats)])

if __name__ == '__main__':
    # Backlog above aiohttp's default 128 so a 2000-client sweep is not refused here.
    web.run_app(app, host=os.environ.get('HOST', '0.0.0.0'), port=int(os.environ['PORT']),
                backlog=4096, print=None)
