// The per-thread registries of live frames (frame_registry.hpp).
#include "frame_registry.hpp"

#include <mutex>
#include <new>

namespace tandem::detail {

frame_registry* frame_registries = nullptr;

namespace {

// Taken once per thread (its first coroutine) and at thread exit: never
// per coroutine.
std::mutex registries_mutex;

// Ids are handed to each thread in blocks, so a single thread numbers its
// coroutines 1, 2, 3, ... and no creation touches a shared counter.
constexpr std::uint64_t id_block = 1024;
std::atomic<std::uint64_t> next_id_block{1};

constinit thread_local frame_registry* this_thread_registry
    __attribute__((tls_model("initial-exec"))) = nullptr;

// Orphans this thread's registry when the thread exits.
struct registry_release {
  frame_registry* registry = nullptr;
  ~registry_release() {
    if (registry == nullptr) return;
    // Frames destroyed on this thread from now on count as another's.
    this_thread_registry = nullptr;
    std::lock_guard lock(registries_mutex);
    registry->orphaned = true;
  }
};
thread_local registry_release thread_registry_release;

frame_registry* adopt_registry() {
  frame_registry* r = nullptr;
  {
    std::lock_guard lock(registries_mutex);
    for (frame_registry* o = frame_registries; o != nullptr; o = o->next) {
      if (o->orphaned) {
        o->orphaned = false;
        r = o;
        break;
      }
    }
    if (r == nullptr) {
      r = new frame_registry;
      r->next = frame_registries;
      frame_registries = r;
    }
  }
  thread_registry_release.registry = r;
  this_thread_registry = r;
  return r;
}

std::atomic_ref<frame_base*> slot_ref(frame_base** slot) noexcept {
  return std::atomic_ref<frame_base*>(*slot);
}

// An empty slot of r: the newest chunk's next one; else, when at least a
// quarter of the older slots are empty again, the next empty one after
// the cursor; else the first of a new chunk.
frame_base** take_slot(frame_registry* r) {
  registry_chunk* head = r->chunks;
  if (head != nullptr && head->used < registry_chunk_slots) return &head->slots[head->used++];
  const std::size_t empty =
      r->owner_emptied + r->remote_emptied.load(std::memory_order_relaxed) - r->refilled;
  if (empty * 4 >= r->capacity && empty > 0) {
    for (;;) {
      if (r->cursor_chunk == nullptr || r->cursor == registry_chunk_slots) {
        r->cursor_chunk = r->cursor_chunk == nullptr ? r->chunks : r->cursor_chunk->next;
        r->cursor = 0;
        if (r->cursor_chunk == nullptr) continue;  // wrapped around
      }
      frame_base** slot = &r->cursor_chunk->slots[r->cursor++];
      if (slot_ref(slot).load(std::memory_order_relaxed) == nullptr) {
        ++r->refilled;
        return slot;
      }
    }
  }
  auto* chunk = new registry_chunk;
  chunk->next = r->chunks;
  chunk->used = 1;
  r->capacity += registry_chunk_slots;
  r->chunks = chunk;
  return &chunk->slots[0];
}

}  // namespace

void list_frame(frame_base* f) {
  frame_registry* r = this_thread_registry;
  if (r == nullptr) r = adopt_registry();
  if (r->next_id == r->id_limit) {
    r->next_id = next_id_block.fetch_add(id_block, std::memory_order_relaxed);
    r->id_limit = r->next_id + id_block;
  }
  f->id = r->next_id++;
  frame_base** slot = take_slot(r);
  f->registry = r;
  f->registry_slot = slot;
  slot_ref(slot).store(f, std::memory_order_release);
}

void unlist_frame(frame_base* f) noexcept {
  slot_ref(f->registry_slot).store(nullptr, std::memory_order_relaxed);
  frame_registry* r = f->registry;
  if (r == this_thread_registry)
    ++r->owner_emptied;
  else
    r->remote_emptied.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace tandem::detail
