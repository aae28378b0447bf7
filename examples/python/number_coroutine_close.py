# The seed's two close() variants of number_coroutine, run one after the
# other as the seed runs them: the first is closed silently, the second
# catches GeneratorExit and reports it.
def number_coroutine():
    while True:
        x = (yield)
        print(x, end=' ')


co = number_coroutine()
next(co)
for i in range(20):
    co.send(i)
co.close()


def number_coroutine():
    try:
        while True:
            x = (yield)
            print(x, end=' ')
    except GeneratorExit:
        print()
        print('코루틴 종료')


co = number_coroutine()
next(co)
for i in range(20):
    co.send(i)
co.close()
