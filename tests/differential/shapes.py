"""Generator body shapes for the differential test, as CPython generators.

Each shape here has a twin in shapes.cpp, written line for line alike so
that a reader can hold them side by side. A shape takes two integer
parameters (a, b) and an Effects record, which the body updates so that
side effects (finally blocks, handlers) show up in the trace too.

next() sends None in Python and In{} == 0 in tandem; sent() maps the first
to the second so that the bodies compute the same numbers.
"""


class CodedError(ValueError):
    """The error thrown into bodies; tandem's twin is differential::coded_error."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Effects:
    __slots__ = ("finally_runs", "caught", "exits_seen", "received")

    def __init__(self):
        self.finally_runs = 0
        self.caught = 0
        self.exits_seen = 0
        self.received = 0

    def values(self):
        return [self.finally_runs, self.caught, self.exits_seen, self.received]


def sent(value):
    return 0 if value is None else value


# Yields a running total of the values sent; returns once it exceeds b.
def running_sum(a, b, fx):
    total = a
    while True:
        value = sent((yield total))
        fx.received += value
        total += value
        if total > b:
            return


# Counts resumptions; a thrown error is caught and answered with a marker
# yielded from inside the handler (so a second throw there escapes).
def catch_mark(a, b, fx):
    count = 0
    while True:
        try:
            fx.received += sent((yield count))
            count += 1
        except CodedError as e:
            fx.caught += 1
            yield a + e.code


# Ignores the first a closes by yielding -1 from the GeneratorExit handler.
def ignore_close(a, b, fx):
    i = 0
    ignored = 0
    while True:
        try:
            yield i
            i += 1
        except GeneratorExit:
            fx.exits_seen += 1
            if ignored >= a:
                raise
            ignored += 1
            yield -1


# Yields 0, 10, 20, ... a times, then returns.
def return_after(a, b, fx):
    for i in range(a):
        fx.received += sent((yield i * 10))


# Yields 0, 1, ... a times, then raises CodedError(b).
def raise_after(a, b, fx):
    for i in range(a):
        fx.received += sent((yield i))
    raise CodedError(b)


# Two nested try/finally blocks: the inner one adds 1, the outer one 10.
def nested_finally(a, b, fx):
    try:
        try:
            for i in range(a):
                fx.received += sent((yield i))
        finally:
            fx.finally_runs += 1
        yield 100
    finally:
        fx.finally_runs += 10


# Catches even codes and returns; odd codes escape.
def catch_even(a, b, fx):
    i = a
    try:
        while True:
            fx.received += sent((yield i))
            i += 1
    except CodedError as e:
        if e.code % 2 != 0:
            raise
        fx.caught += 1


# Yields back what it receives, starting with a.
def echo(a, b, fx):
    value = a
    while True:
        value = sent((yield value))
        fx.received += value


# Returns when closed.
def close_returns(a, b, fx):
    try:
        while True:
            fx.received += sent((yield a))
    except GeneratorExit:
        fx.exits_seen += 1
        return


# Answers a close with CodedError(a).
def close_raises(a, b, fx):
    try:
        while True:
            fx.received += sent((yield a))
    except GeneratorExit:
        fx.exits_seen += 1
        raise CodedError(a)


# A finally block that yields 999: it runs on return, throw and close; after
# the yield, the pending exception (if any) goes on.
def yield_in_finally(a, b, fx):
    try:
        for i in range(a):
            fx.received += sent((yield i))
    finally:
        fx.finally_runs += 1
        yield 999


# After a yields, lets StopIteration escape the body (PEP 479).
def leak_stop(a, b, fx):
    for i in range(a):
        fx.received += sent((yield i))
    raise StopIteration


# name -> (body, parameter ranges a and b, whether dropping it is safe: the
# body neither yields nor raises when closed, so destruction may close it).
SHAPES = {
    "running_sum": (running_sum, (0, 5), (5, 40), True),
    "catch_mark": (catch_mark, (100, 105), (0, 0), True),
    "ignore_close": (ignore_close, (0, 3), (0, 0), False),
    "return_after": (return_after, (0, 4), (0, 0), True),
    "raise_after": (raise_after, (0, 4), (1, 9), True),
    "nested_finally": (nested_finally, (0, 3), (0, 0), True),
    "catch_even": (catch_even, (0, 5), (0, 0), True),
    "echo": (echo, (-3, 3), (0, 0), True),
    "close_returns": (close_returns, (0, 5), (0, 0), True),
    "close_raises": (close_raises, (1, 9), (0, 0), False),
    "yield_in_finally": (yield_in_finally, (0, 3), (0, 0), False),
    "leak_stop": (leak_stop, (0, 3), (0, 0), True),
}
