# The seed's asyncio_coroutine_return.py: run_until_complete() returns the
# coroutine's value. (new_event_loop() for get_event_loop(): see
# asyncio_coroutine.py.)
import asyncio


async def coroutine():
    print("in coroutine")
    return 'result'


event_loop = asyncio.new_event_loop()
try:
    return_value = event_loop.run_until_complete(coroutine())
    print(f"it returned : {return_value!r}")
finally:
    event_loop.close()
