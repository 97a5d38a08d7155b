# The tutorial's sleepy third-party API: answers after ?delay= seconds.
import asyncio
import os

from aiohttp import web


async def handle(request):
    delay = float(request.query.get('delay') or 1)
    await asyncio.sleep(delay)
    return web.Response(text='slow api response')


app = web.Application()
app.add_routes([web.get('/', handle)])

if __name__ == '__main__':
    # Backlog above aiohttp's default 128 so a 2000-client sweep is not refused here.
    web.run_app(app, host=os.environ.get('HOST', '0.0.0.0'), port=int(os.environ['PORT']),
                backlog=4096, print=None)
