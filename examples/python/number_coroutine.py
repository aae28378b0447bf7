# The seed's first number_coroutine: prints each value sent to it.
def number_coroutine():
    while True:
        x = (yield)
        print(x)


co = number_coroutine()
next(co)
co.send(1)
co.send(2)
co.send(3)
