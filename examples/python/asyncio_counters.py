# The seed's asyncio exercise: two async counters, each counting to
# 50,000,000, awaited one after the other by main().
#
# Usage: asyncio_counters.py [N]  (default 50,000,000; the ctest uses a
# smaller N so that the reference output is quick to regenerate). The seed
# calls asyncio.get_event_loop(); see asyncio_coroutine.py for why this
# twin asks for a new loop.
import asyncio
import sys


async def coroutine_1(num):
    result_value = 0
    while result_value < num:
        result_value += 1
    return result_value


async def coroutine_2(num):
    result_value = 0
    while result_value < num:
        result_value += 1
    return result_value


async def main(num):
    one = await coroutine_1(num)
    two = await coroutine_2(num)
    print("ret_value=", end="")
    print(one + two)
    print("end of main")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50000000
    loop = asyncio.new_event_loop()
    loop.run_until_complete(main(count))
    loop.close()
