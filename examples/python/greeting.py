# The seed's three coroutine_test greeting variants, run one after the
# other as the seed runs them, without the time.sleep(2) pauses.
#
# print(cr) would show "<generator object coroutine_test at 0x...>", an
# address that changes from run to run; stable_repr drops " at 0x...", so
# each variant prints "cr=<generator object coroutine_test>".
import re


def stable_repr(obj):
    return re.sub(r' at 0x[0-9a-fA-F]+', '', repr(obj))


# Variant 1: greeting keeps growing with every send.
def coroutine_test():
    greeting = "good"
    while True:
        text = (yield greeting)
        print("text= ", end= ""), print(text)
        greeting += text


if __name__ == "__main__":
    cr = coroutine_test()
    print("cr=", end=""), print(stable_repr(cr))
    next(cr)
    print("send 1")
    print(cr.send("morning"))
    print("send 2")
    print(cr.send("afternoon"))
    print("send 3")
    print(cr.send("evening"))


# Variant 2: the coroutine prints "good" + text itself.
def coroutine_test():
    greeting = "good"
    while True:
        text = (yield greeting)
        print(greeting + text)


if __name__ == "__main__":
    cr = coroutine_test()
    print("cr=", end=""), print(stable_repr(cr))
    next(cr)
    print("send 1")
    cr.send("morning")
    print("send 2")
    cr.send("afternoon")
    print("send 3")
    cr.send("evening")


# Variant 3: greeting starts again from "good" before each text is added.
def coroutine_test():
    greeting = "good"
    while True:
        text = (yield greeting)
        print("text = ", end=""), print(text)
        greeting = "good"
        greeting += text


if __name__ == "__main__":
    cr = coroutine_test()
    print("cr=", end=""), print(stable_repr(cr))
    next(cr)
    print("send 1")
    print(cr.send("morning"))
    print("send 2")
    print(cr.send("afternoon"))
    print("send 3")
    print(cr.send("evening"))
