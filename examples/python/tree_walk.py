# A recursive tree walk with yield from (PEP 380): every subtree is a
# generator that yields its lines and returns how many nodes it holds.

TREE = ("root", [
    ("src", [("main.c", []), ("util", [("str.c", []), ("str.h", [])])]),
    ("docs", [("intro.md", [])]),
    ("README", []),
])


def walk(node, depth):
    name, children = node
    yield "    " * depth + name
    size = 1
    for child in children:
        size += yield from walk(child, depth + 1)
    return size


def listing(tree):
    count = yield from walk(tree, 0)
    yield f"{count} nodes"
    return count * 10


for line in listing(TREE):
    print(line)

# What a generator returns travels in StopIteration.
gen = listing(TREE)
try:
    while True:
        next(gen)
except StopIteration as stop:
    print("listing returned", stop.value)


# close() while delegating closes the innermost generator first.
def walk_noisy(node):
    name, children = node
    try:
        yield name
        for child in children:
            yield from walk_noisy(child)
    finally:
        print("leaving", name)


gen = walk_noisy(TREE)
print(next(gen), next(gen), next(gen))
gen.close()
print("closed")
