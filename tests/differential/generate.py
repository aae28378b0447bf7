#!/usr/bin/env python3
"""Writes random generator scenarios and CPython's traces of them.

    generate.py --seed S --count N --out FILE [--family plain|delegation]

A scenario is a body shape (shapes.py) with random parameters, driven by a
random sequence of next/send/throw/close, some of them before the start or
after the end. CPython runs it, and every outcome is written in a
normalized form that replay.cpp reproduces over tandem::coroutine:

    scenario <id> <shape> <a> <b> <drop|close_loop>
    <next|send|throw|close> <arg> => <outcome>   one line per operation
    effects <finally_runs> <caught> <exits_seen> <received>
    teardown => <outcome>                        close_loop only, per close()
    after <finally_runs> <caught> <exits_seen> <received>
    end

Families: "plain" (SHAPES: bodies that return nothing) and "delegation"
(DELEGATION_SHAPES: bodies that return a value, and chains of yield from
one to three deep).

Outcomes: "yield V", "stop" (StopIteration), "stop V" (StopIteration whose
value V is not None: what the body returned), "error C" (CodedError(C)),
"ignored" (RuntimeError: generator ignored GeneratorExit), "stop_leaked"
(RuntimeError: generator raised StopIteration), "send_unstarted"
(TypeError), "exit" (GeneratorExit), "ok" (close returned).

Teardown: "drop" deletes the generator, so CPython's finalizer closes it
(tandem: the destructor). Shapes that yield or raise when closed would
print "Exception ignored" there (tandem: terminate), so they are closed
explicitly until close() returns: "close_loop".
"""

import argparse
import random
import sys
import weakref

from shapes import DELEGATION_SHAPES, SHAPES, CodedError, Effects

FAMILIES = {"plain": SHAPES, "delegation": DELEGATION_SHAPES}

MAX_OPS = 14
MAX_TEARDOWN_CLOSES = 8


def outcome_of(call):
    try:
        value = call()
    except StopIteration as e:
        return "stop" if e.value is None else f"stop {e.value}"
    except CodedError as e:
        return f"error {e.code}"
    except GeneratorExit:
        return "exit"
    except TypeError as e:
        if "just-started generator" in str(e):
            return "send_unstarted"
        raise
    except RuntimeError as e:
        if str(e) == "generator ignored GeneratorExit":
            return "ignored"
        if str(e) == "generator raised StopIteration":
            return "stop_leaked"
        raise
    return "ok" if value is None else f"yield {value}"


def apply(gen, kind, arg):
    if kind == "next":
        return outcome_of(lambda: next(gen))
    if kind == "send":
        return outcome_of(lambda: gen.send(arg))
    if kind == "throw":
        return outcome_of(lambda: gen.throw(CodedError(arg)))
    return outcome_of(gen.close)


def random_op(rng, weights):
    kind = rng.choices(["next", "send", "throw", "close"], weights=weights)[0]
    if kind == "send":
        return kind, rng.randint(-5, 20)
    if kind == "throw":
        return kind, rng.randint(1, 9)
    return kind, 0


def run_scenario(index, rng, out, shapes):
    name = rng.choice(sorted(shapes))
    body, a_range, b_range, safe_to_drop = shapes[name]
    a, b = rng.randint(*a_range), rng.randint(*b_range)
    teardown = "drop" if safe_to_drop else "close_loop"
    # Per scenario weights: some mostly resume, some throw and close often.
    weights = [rng.randint(20, 60), rng.randint(10, 50), rng.randint(2, 25), rng.randint(1, 15)]
    ops = [random_op(rng, weights) for _ in range(rng.randint(1, MAX_OPS))]
    if rng.random() < 0.6:  # most scenarios start the generator first
        ops.insert(0, ("next", 0))

    fx = Effects()
    gen = body(a, b, fx)
    lines = [f"scenario {index} {name} {a} {b} {teardown}"]
    for kind, arg in ops:
        lines.append(f"{kind} {arg} => {apply(gen, kind, arg)}")
    lines.append("effects " + " ".join(map(str, fx.values())))
    if teardown == "close_loop":
        for _ in range(MAX_TEARDOWN_CLOSES):
            result = apply(gen, "close", 0)
            lines.append(f"teardown => {result}")
            if result == "ok":
                break
    alive = weakref.ref(gen)
    del gen
    if alive() is not None:  # the trace would depend on the garbage collector
        sys.exit(f"scenario {index}: the generator outlived its last reference")
    lines.append("after " + " ".join(map(str, fx.values())))
    lines.append("end")
    out.write("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--family", choices=sorted(FAMILIES), default="plain")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "w", encoding="ascii", newline="\n") as out:
        out.write(f"# tandem differential scenarios: {args.family}, seed {args.seed}, "
                  f"count {args.count}\n")
        for index in range(args.count):
            run_scenario(index, rng, out, FAMILIES[args.family])


if __name__ == "__main__":
    main()
