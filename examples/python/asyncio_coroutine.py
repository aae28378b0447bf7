# The seed's asyncio_coroutine.py: run_until_complete() starts the loop with
# one coroutine and stops it when the coroutine ends.
#
# The seed calls asyncio.get_event_loop(); with no loop running, Python 3.12
# deprecates that and 3.14 raises, so this twin asks for a new loop, which
# behaves the same here.
import asyncio


async def coroutine():
    print("in coroutine")


event_loop = asyncio.new_event_loop()
try:
    print("Starting coroutine")
    coro = coroutine()
    print("entering event loop")
    event_loop.run_until_complete(coro)
finally:
    print("closing event loop")
    event_loop.close()
