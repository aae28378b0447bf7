// A recursive tree walk with yield_from (Python's `yield from`, PEP 380):
// every subtree is a coroutine that yields its lines and returns how many
// nodes it holds. The twin of python/tree_walk.py:
//
//     def walk(node, depth):
//         name, children = node
//         yield "    " * depth + name
//         size = 1
//         for child in children:
//             size += yield from walk(child, depth + 1)
//         return size
//
//     def listing(tree):
//         count = yield from walk(tree, 0)
//         yield f"{count} nodes"
//         return count * 10
//
//     for line in listing(TREE):
//         print(line)
//     gen = listing(TREE)
//     try:
//         while True:
//             next(gen)
//     except StopIteration as stop:
//         print("listing returned", stop.value)
//
//     def walk_noisy(node):
//         name, children = node
//         try:
//             yield name
//             for child in children:
//                 yield from walk_noisy(child)
//         finally:
//             print("leaving", name)
//
//     gen = walk_noisy(TREE)
//     print(next(gen), next(gen), next(gen))
//     gen.close()
//     print("closed")
#include <cstdio>
#include <string>
#include <vector>

#include "tandem/coroutine.hpp"

namespace {

struct node {
  std::string name;
  std::vector<node> children;
};

const node tree{"root",
                {{"src", {{"main.c", {}}, {"util", {{"str.c", {}}, {"str.h", {}}}}}},
                 {"docs", {{"intro.md", {}}}},
                 {"README", {}}}};

// Yields lines, returns a count.
using lines = tandem::coroutine<std::string, void, int>;

lines walk(const node& n, int depth) {
  return lines([&n, depth](lines::yielder_type& y) {
    y.yield(std::string(4 * static_cast<std::size_t>(depth), ' ') + n.name);
    int size = 1;
    for (const node& child : n.children) size += y.yield_from(walk(child, depth + 1));
    return size;
  });
}

lines listing(const node& t) {
  return lines([&t](lines::yielder_type& y) {
    const int count = y.yield_from(walk(t, 0));
    y.yield(std::to_string(count) + " nodes");
    return count * 10;
  });
}

// Python's try/finally around the body: the destructor runs however it ends.
struct print_on_leaving {
  const std::string& name;
  ~print_on_leaving() { std::printf("leaving %s\n", name.c_str()); }
};

tandem::coroutine<std::string> walk_noisy(const node& n) {
  return tandem::coroutine<std::string>([&n](tandem::yielder<std::string>& y) {
    print_on_leaving finally{n.name};
    y.yield(n.name);
    for (const node& child : n.children) y.yield_from(walk_noisy(child));
  });
}

}  // namespace

int main() {
  for (const std::string& line : listing(tree)) std::printf("%s\n", line.c_str());

  // What a coroutine returns is kept for result(): no exception carries it.
  lines gen = listing(tree);
  for (const std::string& line : gen) (void)line;
  std::printf("listing returned %d\n", gen.result());

  auto noisy = walk_noisy(tree);
  const std::string first = noisy.next();  // Python evaluates the arguments in order
  const std::string second = noisy.next();
  const std::string third = noisy.next();
  std::printf("%s %s %s\n", first.c_str(), second.c_str(), third.c_str());
  noisy.close();
  std::printf("closed\n");
  return 0;
}
