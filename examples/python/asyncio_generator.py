# The seed's asyncio_generator.py: asyncio_coroutine_chain.py written the
# pre-3.5 way, as generators decorated with @asyncio.coroutine that delegate
# with "yield from".
#
# @asyncio.coroutine was deprecated in 3.8 and removed in 3.11, so this twin
# cannot run the seed's text as it stands. It is the seed's program with
# each "@asyncio.coroutine def" turned into "async def" and each
# "yield from" into "await" -- the rewrite the deprecation notice asks for.
# It prints what the seed's program printed on the Pythons that had the
# decorator. The seed's original:
#
#     @asyncio.coroutine
#     def outer():
#         print("in outer")
#         print("waiting for result1")
#         result1 = yield from phase1()
#         print("waiting for result2")
#         result2 = yield from phase2(result1)
#         return result1, result2
#
#     @asyncio.coroutine
#     def phase1():
#         print(" - in phase1")
#         return "result1"
#
#     @asyncio.coroutine
#     def phase2(arg):
#         print(" - in phase2")
#         return f"result2 derived from {arg}"
#
# (new_event_loop() for get_event_loop(): see asyncio_coroutine.py.)
import asyncio


async def outer():
    print("in outer")
    print("waiting for result1")
    result1 = await phase1()  # was: yield from phase1()
    print("waiting for result2")
    result2 = await phase2(result1)  # was: yield from phase2(result1)
    return result1, result2


async def phase1():
    print(" - in phase1")
    return "result1"


async def phase2(arg):
    print(" - in phase2")
    return f"result2 derived from {arg}"


event_loop = asyncio.new_event_loop()
try:
    return_value = event_loop.run_until_complete(outer())
    print(f"return value : {return_value!r}")
finally:
    event_loop.close()
