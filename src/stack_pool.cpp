// The stack pool behind tandem::stack; the design is described in
// include/tandem/stack.hpp.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "overflow_report.hpp"
#include "tandem/detail/sanitizer.hpp"
#include "tandem/stack.hpp"

#ifdef TANDEM_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif

namespace tandem {
namespace {

// From <linux/mman.h> of Linux 6.13; older headers lack it.
constexpr int madv_guard_install = 102;

// Stacks of a size are carved from slabs: mappings of many stacks, each a
// system call less. A size's first slab is small, and each next one twice
// the last, up to slab_bytes: a size used for a few stacks takes little
// address space. (With 64 MiB from the first stack on, a program with 40
// sizes had spent a 32-bit process's whole address space.)
constexpr std::size_t first_slab_bytes = std::size_t{1} << 20;
constexpr std::size_t slab_bytes = std::size_t{64} << 20;
constexpr std::size_t thread_cache_per_size = 64;
// Stacks released past the thread caches give their pages back to the
// kernel in batches of this many, one madvise per run of neighbours: each
// call flushes the TLB, and one call per stack cost 26 us a stack on a VM
// against 0.9 us batched.
constexpr std::size_t return_batch = 64;

enum class guard_mechanism { madvise, mprotect };

// The guard below each stack is a band of pages, not one: a function whose
// frame is larger than a page moves the stack pointer past a single guard
// page in one step and writes beyond it, into whatever lies below (the
// next stack of the slab). 64 KiB is what GCC's -fstack-clash-protection
// assumes of the guard on AArch64; a frame larger than the band can still
// jump it, unless the code was built with that option, which probes the
// stack a page at a time. Two pages where the address space is 4 GiB and
// every byte of it counts (100,000 stacks of 16 KiB take 2.4 GB with it).
constexpr std::size_t guard_band = sizeof(void*) >= 8 ? 64 * 1024 : 8 * 1024;
// Its pages, at most (4 KiB pages): mincore's answer for the band fits.
constexpr std::size_t max_guard_pages = guard_band / 4096;

struct pool_config {
  std::size_t page;
  std::size_t guard;  // the guard band below each stack: whole pages
  guard_mechanism mechanism;
  std::size_t mprotect_budget;
};

// qemu-user, among others, answers every madvise with success without
// doing anything. A real kernel rejects an advice it does not know.
bool madvise_is_honest(void* page, std::size_t page_size) {
  constexpr int no_such_advice = 0x7fff;
  return ::madvise(page, page_size, no_such_advice) != 0 && errno == EINVAL;
}

bool guard_install_works(std::size_t page) {
  void* probe = ::mmap(nullptr, page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (probe == MAP_FAILED) return false;
  const bool works =
      madvise_is_honest(probe, page) && ::madvise(probe, page, madv_guard_install) == 0;
  ::munmap(probe, page);
  return works;
}

std::size_t read_max_map_count() {
  std::ifstream in("/proc/sys/vm/max_map_count");
  std::size_t n = 0;
  return (in >> n) ? n : 65530;  // the kernel's default
}

pool_config detect_config() {
  pool_config c{};
  c.page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  c.guard = std::max(c.page, (guard_band + c.page - 1) / c.page * c.page);
  const char* forced = std::getenv("TANDEM_STACK_GUARD");
  const bool force_mprotect = forced != nullptr && (std::strcmp(forced, "mprotect") == 0 ||
                                                    std::strcmp(forced, "none") == 0);
  c.mechanism = !force_mprotect && guard_install_works(c.page) ? guard_mechanism::madvise
                                                               : guard_mechanism::mprotect;
  // Each mprotect guard inside a slab splits one mapping into three: two
  // more per guard. Spend at most a quarter of the limit on them.
  c.mprotect_budget = read_max_map_count() / 4 / 2;
  if (forced != nullptr && std::strcmp(forced, "none") == 0) c.mprotect_budget = 0;
  return c;
}

const pool_config& config() {
  static const pool_config c = detect_config();
  return c;
}

struct slot {
  std::byte* base;  // lowest usable byte; the guard band lies below it
  bool guarded;
};

// All stacks of one usable size: the global free lists and the slab being
// carved. `unreturned` holds released stacks whose pages the kernel has not
// taken back yet (at most return_batch - 1 of them).
struct size_class {
  std::size_t usable;
  std::vector<slot> free;
  std::vector<slot> unreturned;
  std::byte* carve_next = nullptr;
  std::size_t carve_left = 0;
  std::size_t slab_stacks = 0;  // how many the last slab held
};

struct thread_cache;

struct global_pool {
  std::mutex mutex;
  // Every thread's cache (their live counts), under the mutex.
  thread_cache* caches = nullptr;
  std::vector<size_class> classes;
  std::size_t mprotect_guards = 0;
  // Stacks handed out and not released, by threads without a cache (and
  // those that have exited); the rest counts per thread (thread_cache).
  // Counts are modulo 2^64: one thread may release what another acquired.
  std::atomic<std::size_t> live{0};
  std::atomic<std::size_t> guarded{0};
  std::atomic<std::size_t> unguarded{0};

  size_class& class_for(std::size_t usable) {
    for (auto& c : classes)
      if (c.usable == usable) return c;
    return classes.emplace_back(size_class{usable, {}, {}, nullptr, 0, 0});
  }
};

// Never destroyed: stacks can be released from other static or
// thread-local destructors, in any order.
global_pool& global() {
  static auto* pool = new global_pool;
  return *pool;
}

[[noreturn]] void throw_alloc_error(const std::string& what) { throw stack_alloc_error(what); }

std::string describe_errno(int error) { return std::strerror(error); }

// Puts a guard below `base` if the mechanism and the budget allow.
bool install_guard(global_pool& g, std::byte* base) {
  const auto& c = config();
  std::byte* guard = base - c.guard;
  if (c.mechanism == guard_mechanism::madvise && ::madvise(guard, c.guard, madv_guard_install) == 0)
    return true;
  if (g.mprotect_guards >= c.mprotect_budget) return false;
  if (::mprotect(guard, c.guard, PROT_NONE) != 0) return false;
  ++g.mprotect_guards;
  return true;
}

// Whether the process runs under Valgrind, asked once: a client request
// costs about 15 instructions outside Valgrind too, and a coroutine's life
// would make four.
bool on_valgrind() noexcept {
#ifdef TANDEM_HAVE_VALGRIND
  static const bool yes = RUNNING_ON_VALGRIND != 0;
  return yes;
#else
  return false;
#endif
}

// Pool memory no stack holds (a slab's uncarved rest, a released stack) is
// inaccessible to Memcheck: a use of a stack after its release is reported,
// and the leak check at exit skips it instead of reading every page of
// every slab (a minute and more for 20,000 stacks).
void hide_from_valgrind([[maybe_unused]] void* base, [[maybe_unused]] std::size_t size) noexcept {
#ifdef TANDEM_HAVE_VALGRIND
  if (on_valgrind()) VALGRIND_MAKE_MEM_NOACCESS(base, size);
#endif
}

slot carve(global_pool& g, size_class& sc) {
  const std::size_t guard = config().guard;
  const std::size_t stride = guard + sc.usable;
  if (sc.carve_left == 0) {
    const std::size_t most = std::max<std::size_t>(1, slab_bytes / stride);
    const std::size_t count = sc.slab_stacks == 0
                                  ? std::clamp<std::size_t>(first_slab_bytes / stride, 1, most)
                                  : std::min(most, 2 * sc.slab_stacks);
    void* slab = ::mmap(nullptr, count * stride, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (slab == MAP_FAILED)
      throw_alloc_error("tandem::stack: mmap of " + std::to_string(count * stride) +
                        " bytes for stacks of " + std::to_string(sc.usable) +
                        " bytes failed: " + describe_errno(errno));
    // No transparent huge pages: a 2 MiB page would commit far more than a
    // stack uses, and would make an unguarded stack's untouched lowest page
    // resident, which the overflow check would take for an overflow.
    ::madvise(slab, count * stride, MADV_NOHUGEPAGE);
    hide_from_valgrind(slab, count * stride);
    sc.carve_next = static_cast<std::byte*>(slab);
    sc.carve_left = count;
    sc.slab_stacks = count;
  }
  slot s{sc.carve_next + guard, false};
  sc.carve_next += stride;
  --sc.carve_left;
  s.guarded = install_guard(g, s.base);
  (s.guarded ? g.guarded : g.unguarded).fetch_add(1, std::memory_order_relaxed);
  return s;
}

// The calling thread's cache of released stacks, per size.
struct thread_cache {
  struct bucket {
    std::size_t usable;
    std::vector<slot> slots;
  };
  std::vector<bucket> buckets;
  // Stacks this thread acquired minus those it released, written by this
  // thread alone (a plain atomic store: no read-modify-write per stack)
  // and summed by stack_pool_statistics.
  std::size_t live = 0;
  thread_cache* next = nullptr;  // in global_pool::caches
  thread_cache* prev = nullptr;

  thread_cache();

  // May allocate the first time a size is seen on this thread.
  bucket& bucket_for(std::size_t usable) {
    for (auto& b : buckets)
      if (b.usable == usable) return b;
    bucket fresh{usable, {}};
    fresh.slots.reserve(thread_cache_per_size);  // pushes below never reallocate
    return buckets.emplace_back(std::move(fresh));
  }
  ~thread_cache();
};

// The calling thread's cache, through a pointer: a thread_local with a
// destructor costs a call (its TLS init check) at every use, this a load.
constinit thread_local thread_cache* cache_ptr = nullptr;
constinit thread_local bool cache_gone = false;  // trivially destructible: safe to read late

thread_cache* make_cache() {
  if (cache_gone) return nullptr;  // the thread is exiting
  thread_local thread_cache cache;
  cache_ptr = &cache;
  return &cache;
}

// This thread's cache, made on first use; null once it is gone.
thread_cache* my_cache() {
  thread_cache* c = cache_ptr;
  return c != nullptr ? c : make_cache();
}

// Hands the pages of `batch` back to the kernel (the address ranges stay
// ours), one call per run of neighbouring stacks. A run spans the guard
// pages between its stacks: MADV_DONTNEED keeps MADV_GUARD_INSTALL's guards
// and mprotect's, and the page below an unguarded stack must not be
// resident anyway (it was checked when the stack was released).
void return_pages(std::vector<slot>& batch, std::size_t usable) noexcept {
  const std::size_t stride = config().guard + usable;
  std::sort(batch.begin(), batch.end(),
            [](const slot& a, const slot& b) { return a.base < b.base; });
  for (std::size_t first = 0; first < batch.size();) {
    std::size_t last = first;
    while (last + 1 < batch.size() && batch[last + 1].base == batch[last].base + stride) ++last;
    std::byte* begin = batch[first].base;
    std::byte* end = batch[last].base + usable;
    if (::madvise(begin, static_cast<std::size_t>(end - begin), MADV_DONTNEED) != 0)
      for (std::size_t i = first; i <= last; ++i) ::madvise(batch[i].base, usable, MADV_DONTNEED);
    first = last + 1;
  }
}

void give_back(global_pool& g, std::size_t usable, slot s) {
  std::vector<slot> batch;
  {
    std::lock_guard lock(g.mutex);
    auto& sc = g.class_for(usable);
    sc.unreturned.push_back(s);
    if (sc.unreturned.size() < return_batch) return;
    batch.swap(sc.unreturned);
  }
  // Out of the lock, and out of every list: no one can acquire them meanwhile.
  return_pages(batch, usable);
  std::lock_guard lock(g.mutex);
  auto& free = g.class_for(usable).free;
  free.insert(free.end(), batch.begin(), batch.end());
}

void count_live(std::size_t& counter, std::size_t delta) noexcept {
  std::atomic_ref<std::size_t> c(counter);
  c.store(c.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

thread_cache::thread_cache() {
  auto& g = global();
  std::lock_guard lock(g.mutex);
  next = g.caches;
  if (next != nullptr) next->prev = this;
  g.caches = this;
}

thread_cache::~thread_cache() {
  cache_gone = true;
  cache_ptr = nullptr;
  auto& g = global();
  {
    std::lock_guard lock(g.mutex);
    (prev != nullptr ? prev->next : g.caches) = next;
    if (next != nullptr) next->prev = prev;
    g.live.fetch_add(std::atomic_ref<std::size_t>(live).load(), std::memory_order_relaxed);
  }
  try {
    for (auto& b : buckets)
      for (auto s : b.slots) give_back(g, b.usable, s);
  } catch (const std::bad_alloc&) {
    // As in release_slot: what cannot be listed stays mapped and unused.
  }
}

std::size_t usable_size(stack_options options) {
  static_assert(default_stack_size % (std::size_t{64} << 10) == 0, "a whole number of pages");
  if (options.size == 0) return default_stack_size;
  const std::size_t wanted = options.size;
  if (wanted < min_stack_size)
    throw std::invalid_argument("tandem::stack_options::size is " + std::to_string(wanted) +
                                " bytes; the smallest stack is tandem::min_stack_size (" +
                                std::to_string(min_stack_size) + " bytes)");
  if (wanted > max_stack_size)
    throw_alloc_error("tandem::stack_options::size is " + std::to_string(wanted) +
                      " bytes; the largest stack is tandem::max_stack_size (" +
                      std::to_string(max_stack_size) + " bytes)");
  const std::size_t page = config().page;
  return (wanted + page - 1) / page * page;
}

slot acquire(std::size_t usable) {
  thread_cache* const c = my_cache();
  if (c != nullptr) {
    auto& b = c->bucket_for(usable);
    if (!b.slots.empty()) {
      slot s = b.slots.back();
      b.slots.pop_back();
      count_live(c->live, 1);
      return s;
    }
  }
  auto& g = global();
  std::lock_guard lock(g.mutex);
  auto& sc = g.class_for(usable);
  slot s;
  if (!sc.unreturned.empty()) {  // its pages are still there: no page fault
    s = sc.unreturned.back();
    sc.unreturned.pop_back();
  } else if (!sc.free.empty()) {
    s = sc.free.back();
    sc.free.pop_back();
  } else {
    s = carve(g, sc);
  }
  if (c != nullptr)
    count_live(c->live, 1);
  else
    g.live.fetch_add(1, std::memory_order_relaxed);
  return s;
}

// The band below an unguarded stack stands in for the guard: nothing may
// ever touch it. If the kernel says a page of it is resident, the stack was
// run off.
bool page_below_touched(const std::byte* base) noexcept {
  const auto& c = config();
  unsigned char resident[max_guard_pages] = {};
  if (::mincore(const_cast<std::byte*>(base) - c.guard, c.guard, resident) != 0) return false;
  for (std::size_t i = 0; i < c.guard / c.page; ++i)
    if ((resident[i] & 1) != 0) return true;
  return false;
}

void check_unguarded(slot s, std::size_t usable) {
  if (!page_below_touched(s.base)) return;
  detail::write_overflow_report({0, false, "", s.base, usable}, nullptr);
  detail::die_of_overflow();
}

void release_slot(slot s, std::size_t usable) noexcept {
  if (!s.guarded) check_unguarded(s, usable);
  thread_cache* c = nullptr;
  try {
    c = my_cache();
  } catch (const std::bad_alloc&) {
    // Counted and given back below, without a cache.
  }
  if (c != nullptr)
    count_live(c->live, ~std::size_t{0});  // minus one, modulo 2^64
  else
    global().live.fetch_sub(1, std::memory_order_relaxed);
  try {
    if (c != nullptr) {
      auto& b = c->bucket_for(usable);
      if (b.slots.size() < thread_cache_per_size) {
        b.slots.push_back(s);
        return;
      }
    }
    give_back(global(), usable, s);
  } catch (const std::bad_alloc&) {
    // No memory to list it: the stack stays mapped and unused. Losing a
    // stack beats terminating the process from a destructor.
  }
}

// Valgrind takes a jump of the stack pointer into a registered stack for a
// switch of stacks, not for a frame of absurd size. Memcheck also still
// holds the last user's frames as inaccessible (they were below its stack
// pointer when it left): the new owner gets the memory addressable.
unsigned register_with_valgrind([[maybe_unused]] std::byte* base,
                                [[maybe_unused]] std::size_t size) noexcept {
#ifdef TANDEM_HAVE_VALGRIND
  if (!on_valgrind()) return 0;
  VALGRIND_MAKE_MEM_UNDEFINED(base, size);
  return VALGRIND_STACK_REGISTER(base, base + size);
#else
  return 0;
#endif
}

void deregister_with_valgrind([[maybe_unused]] unsigned id, std::byte* base,
                              std::size_t size) noexcept {
#ifdef TANDEM_HAVE_VALGRIND
  if (id != 0) VALGRIND_STACK_DEREGISTER(id);
#endif
  hide_from_valgrind(base, size);
}

}  // namespace

stack::stack(stack_options options) {
  size_ = usable_size(options);
  const slot s = acquire(size_);
  base_ = s.base;
  guarded_ = s.guarded;
  valgrind_id_ = register_with_valgrind(base_, size_);
  // The last user's frames may have left ASan's poison behind.
  detail::forget_stack(base_, size_);
}

stack& stack::operator=(stack&& other) noexcept {
  if (this != &other) {
    release();
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
    guarded_ = std::exchange(other.guarded_, false);
    valgrind_id_ = std::exchange(other.valgrind_id_, 0);
  }
  return *this;
}

void stack::release() noexcept {
  if (base_ != nullptr) {
    deregister_with_valgrind(valgrind_id_, base_, size_);
    release_slot(slot{base_, guarded_}, size_);
  }
  base_ = nullptr;
  size_ = 0;
  valgrind_id_ = 0;
}

std::size_t detail::checked_stack_size(const stack_options& options) {
  return usable_size(options);
}

std::size_t detail::stack_guard_size() noexcept { return config().guard; }

bool detail::ran_off_unguarded(const tandem::stack& s) noexcept {
  return s && !s.guarded() && page_below_touched(static_cast<const std::byte*>(s.bottom()));
}

stack_pool_stats stack_pool_statistics() {
  const auto& c = config();
  auto& g = global();
  std::size_t live = 0;
  {
    std::lock_guard lock(g.mutex);
    live = g.live.load(std::memory_order_relaxed);
    for (thread_cache* t = g.caches; t != nullptr; t = t->next)
      live += std::atomic_ref<std::size_t>(t->live).load(std::memory_order_relaxed);
  }
  return {c.mechanism == guard_mechanism::madvise ? "madvise" : "mprotect", live,
          g.guarded.load(std::memory_order_relaxed), g.unguarded.load(std::memory_order_relaxed),
          c.mprotect_budget};
}

}  // namespace tandem
