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


# Returns a when closed (CPython 3.13's close() returns it; 3.11's does not,
# so no trace shows it).
def close_returns(a, b, fx):
    try:
        while True:
            fx.received += sent((yield a))
    except GeneratorExit:
        fx.exits_seen += 1
        return a


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


# --- Return values and delegation (PEP 380) ---------------------------------
#
# The "delegation" family (generate.py --family delegation). Every body here
# returns an int, which the trace shows as "stop V" (StopIteration.value;
# tandem: result()). Cleanup order shows in fx.finally_runs: each level's
# finally block appends its level's digit, so 321 means the innermost (3)
# ran first, then 2, then the outermost (1).


def finally_digit(fx, level):
    fx.finally_runs = fx.finally_runs * 10 + level


# Yields a running total of the values sent; returns it once it exceeds b.
def ret_sum(a, b, fx):
    total = a
    while True:
        value = sent((yield total))
        fx.received += value
        total += value
        if total > b:
            return total


# Counts resumptions; a thrown error ends it with a * 10 + code.
def ret_catch(a, b, fx):
    i = 0
    try:
        while True:
            fx.received += sent((yield i))
            i += 1
    except CodedError as e:
        fx.caught += 1
        return a * 10 + e.code


# Yields 0, 1, ... a times, then returns 100 + what it received.
def ret_count(a, b, fx):
    got = 0
    for i in range(a):
        got += sent((yield i))
    fx.received += got
    return 100 + got


# Leaves of a delegation chain, at depth `level`. Each returns a value.

# Yields a running total b times, then returns it.
def leaf_return(level, a, b, fx):
    try:
        total = a
        for _ in range(b):
            value = sent((yield total))
            fx.received += value
            total += value
        return total
    finally:
        finally_digit(fx, level)


# Counts resumptions up to b; a thrown error is caught and answered with a
# marker yielded from inside the handler; returns the count.
def leaf_catch(level, a, b, fx):
    count = 0
    try:
        while count < b:
            try:
                fx.received += sent((yield count))
                count += 1
            except CodedError as e:
                fx.caught += 1
                fx.received += sent((yield 100 + e.code))
        return count
    finally:
        finally_digit(fx, level)


# Ignores the first a (0 or 1) closes by yielding -1 (never returns).
def leaf_ignore_exit(level, a, b, fx):
    return ignore_close(a, b, fx)


# Sees the close and lets it go on.
def leaf_honour_exit(level, a, b, fx):
    try:
        while True:
            fx.received += sent((yield a))
    except GeneratorExit:
        fx.exits_seen += 1
        raise
    finally:
        finally_digit(fx, level)


# Returns a when closed.
def leaf_close_returns(level, a, b, fx):
    return close_returns(a, b, fx)


# Answers a close with CodedError(a) (never returns).
def leaf_close_raises(level, a, b, fx):
    return close_raises(a, b, fx)


# Yields 0, 1, ... b times, then raises CodedError(a).
def leaf_raise(level, a, b, fx):
    try:
        for i in range(b):
            fx.received += sent((yield i))
        raise CodedError(a)
    finally:
        finally_digit(fx, level)


# After b yields, lets StopIteration escape (PEP 479: RuntimeError).
def leaf_leak_stop(level, a, b, fx):
    for i in range(b):
        fx.received += sent((yield i))
    raise StopIteration


# A middle level: a yield of its own, then delegation, then it yields the
# sub's result and returns it plus its level.
def middle(level, a, b, fx, inner):
    try:
        fx.received += sent((yield 10 * level + a))
        r = yield from inner
        fx.received += sent((yield r))
        return r + level
    finally:
        finally_digit(fx, level)


# The outermost level: delegates at once; an even CodedError from the chain
# is caught and its negation used as the sub's result.
def outer(a, b, fx, inner):
    try:
        try:
            r = yield from inner
        except CodedError as e:
            if e.code % 2 != 0:
                raise
            fx.caught += 1
            r = -e.code
        fx.received += sent((yield r))
        return 2 * r
    finally:
        finally_digit(fx, 1)


# leaf name -> (leaf, whether dropping a chain over it is safe).
LEAVES = {
    "return": (leaf_return, True),
    "catch": (leaf_catch, True),
    "ignore_exit": (leaf_ignore_exit, False),
    "honour_exit": (leaf_honour_exit, True),
    "close_returns": (leaf_close_returns, True),
    "close_raises": (leaf_close_raises, False),
    "raise": (leaf_raise, True),
    "leak_stop": (leaf_leak_stop, True),
}


# A delegation chain `depth` yield froms deep: outer (level 1), middles
# (levels 2 to depth), and the leaf (level depth + 1).
def chain(depth, leaf):
    def body(a, b, fx):
        inner = leaf(depth + 1, a, b, fx)
        for level in range(depth, 1, -1):
            inner = middle(level, a, b, fx, inner)
        return outer(a, b, fx, inner)

    return body


DELEGATION_SHAPES = {
    "ret_sum": (ret_sum, (0, 5), (5, 40), True),
    "ret_catch": (ret_catch, (1, 9), (0, 0), True),
    "ret_close": (close_returns, (1, 9), (0, 0), True),
    "ret_count": (ret_count, (0, 4), (0, 0), True),
}
for _depth in (1, 2, 3):
    for _name, (_leaf, _safe) in LEAVES.items():
        # a: 0 or 1 (leaf_ignore_exit ignores at most one close, so that a
        # finished chain's leaf is never finalized while it still ignores).
        DELEGATION_SHAPES[f"yf{_depth}_{_name}"] = (chain(_depth, _leaf), (0, 1), (0, 3), _safe)
