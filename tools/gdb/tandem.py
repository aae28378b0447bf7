# tools/gdb/tandem.py: gdb commands for tandem's coroutines and tasks.
#
#   info tandem          every live coroutine and task: id, kind, name,
#                        state, stack range and size
#   tandem bt ID [ARGS]  the backtrace of suspended coroutine or task ID,
#                        from the registers its last switch saved; ARGS go
#                        to gdb's `backtrace` (e.g. -full)
#   tandem bt all        the same for every live coroutine and task
#
# Loaded automatically: the library embeds this file in the .debug_gdb_scripts
# section of every program that links it (src/coroutine.cpp), which gdb runs
# when the program's directory is in its auto-load safe-path. Otherwise:
# `source tools/gdb/tandem.py`. README.md, "Debugging with gdb", has the rest.
#
# The commands only read memory and never call functions in the inferior or
# change its registers, so they work the same in a live process, through a
# gdbstub (qemu-aarch64 -g, qemu-arm, qemu-riscv64) and on a core file. What they read is
# tandem::detail::frame_registries, the per-thread registries of every live
# frame_base (src/frame_registry.hpp), and the frames of
# include/tandem/coroutine.hpp by field name, so the program (or the
# library) needs debug info for frame_base.
#
# x86-64, AArch64, 32-bit ARM and RISC-V 64: the targets with an inline
# switch, whose switch_slots hold {sp, ip, fp}.

import collections
import re

import gdb
import gdb.unwinder

# The registers a switch saves, by gdb's names: pc, stack pointer, frame
# pointer. Keyed by a prefix of gdb's architecture name.
_ARCH_REGISTERS = {
    "i386:x86-64": ("rip", "rsp", "rbp"),
    "aarch64": ("pc", "sp", "x29"),
    # 32-bit ARM: r7 is the frame pointer of Thumb code, r11 of ARM code;
    # the resume address's bit 0 says which (_frame_pointer_name).
    "arm": ("pc", "sp", "r7"),
    "riscv": ("pc", "sp", "fp"),
}

# AArch64 signs the saved resume address with PAC where the library is
# built with pac-ret; the authentication code sits in the bits above the
# virtual address (a plain address has none there, and loses nothing).
# Without the target's own mask (gdb's pauth_cmask register, when the stub
# reports it), keep the low 48 bits: the user-space virtual address on
# Linux with 4-level page tables.
_AARCH64_VA_MASK = (1 << 48) - 1

# A bound on list walks: a core of a crashed process may hold a broken list.
_MAX_FRAMES = 1_000_000
# co_flag::delegating (include/tandem/coroutine.hpp).
_DELEGATING = 64


def _arch_name():
    """gdb's name for the inferior's architecture."""
    try:
        return gdb.selected_inferior().architecture().name()
    except (AttributeError, gdb.error):  # older gdb, or no frame yet
        return gdb.newest_frame().architecture().name()


def _arch_registers():
    """(pc, sp, fp) register names for the inferior's architecture."""
    name = _arch_name()
    for prefix, regs in _ARCH_REGISTERS.items():
        if name.startswith(prefix):
            return regs
    raise gdb.GdbError(
        "tandem: no support for architecture %s (x86-64, AArch64, ARM and RISC-V 64 only)" % name
    )


def _is_aarch64():
    return _arch_name().startswith("aarch64")


def _is_arm32():
    return _arch_name().startswith("arm")


def _frame_pointer_name(arch, fp_name, raw_ip):
    """The register a switch saved as the frame pointer: on 32-bit ARM, r7
    where the switch was in Thumb code (resume address bit 0), else r11."""
    if arch.startswith("arm") and not raw_ip & 1:
        return "r11"
    return fp_name


def _code_address(ip):
    """The resume address as code: without AArch64's PAC signature, or
    32-bit ARM's Thumb bit."""
    if _is_arm32():
        return ip & ~1
    if not _is_aarch64():
        return ip
    if _has_pauth_masks():
        # The code mask is the same for the whole process.
        cmask = int(gdb.newest_frame().read_register("pauth_cmask"))
        return ip & ~cmask & 0xFFFFFFFFFFFFFFFF
    return ip & _AARCH64_VA_MASK


def _enum_names(enum_type):
    """{value: short name} of an enum type (co_state, co_kind)."""
    names = {}
    for field in enum_type.strip_typedefs().fields():
        names[field.enumval] = field.name.split("::")[-1]
    return names


# The registries' layout, as src/frame_registry.hpp keeps it for readers
# without its debug info: frame_registry {next, chunks, ...} and
# registry_chunk {next, used, slots[1022]}, all pointer-sized words.
_CHUNK_SLOTS = 1022


def _frame_pointers():
    """(frame_base* type, [addresses of every listed frame]), newest
    registry first. Reads words by the layout above, which holds whether or
    not the library has debug info for the registry types."""
    try:
        frame_type = gdb.lookup_type("tandem::detail::frame_base")
    except gdb.error:
        raise gdb.GdbError(
            "tandem: no tandem::detail::frame_base type here; is this a tandem program, "
            "built with debug info (-g)?"
        )
    try:
        head_address = int(gdb.parse_and_eval("(char *) &'tandem::detail::frame_registries'"))
    except gdb.error:
        raise gdb.GdbError("tandem: no tandem::detail::frame_registries here; is this a "
                           "tandem program?")
    inferior = gdb.selected_inferior()
    word = frame_type.pointer().sizeof

    def read_word(address):
        return int.from_bytes(bytes(inferior.read_memory(address, word)), "little")

    addresses = []
    seen = set()
    registry = read_word(head_address)
    while registry != 0 and registry not in seen and len(seen) < _MAX_FRAMES:
        seen.add(registry)
        chunk = read_word(registry + word)
        while chunk != 0 and chunk not in seen and len(seen) < _MAX_FRAMES:
            seen.add(chunk)
            used = min(read_word(chunk + word), _CHUNK_SLOTS)
            slots = bytes(inferior.read_memory(chunk + 2 * word, used * word))
            for i in range(used):
                frame = int.from_bytes(slots[i * word:(i + 1) * word], "little")
                if frame != 0:
                    addresses.append(frame)
            chunk = read_word(chunk)
        registry = read_word(registry)
    return frame_type.pointer(), addresses


# What a switch saved: the stack pointer, the resume address (PAC stripped)
# and the frame pointer.
_Slots = collections.namedtuple("_Slots", "sp ip fp raw_ip")


class _TandemFrame:
    """One live coroutine or task, as read from its frame_base."""

    def __init__(self, value, state_names, kind_names):
        self.id = int(value["id"])
        self.kind = kind_names.get(int(value["kind"]), "kind %d" % int(value["kind"]))
        self.state = state_names.get(int(value["state"]), "state %d" % int(value["state"]))
        name = value["name"]
        raw = bytes(gdb.selected_inferior().read_memory(name.address, name.type.sizeof))
        self.name = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        self.low = int(value["stack"]["base_"])
        self.size = int(value["stack"]["size_"])
        self.high = self.low + self.size
        # Where the body stopped (suspended) and where the resumer waits
        # (running): {sp, ip, fp} of its last switch.
        self.body = self._slots(value["body"])
        self.resumer = self._slots(value["resumer"])
        # yield_from with the delegation in place (generator rule 16): the
        # sub's id. The body waits in its yield_from; resumes go straight
        # into the chain's innermost body.
        self.delegates_to = None
        if int(value["flags"]) & _DELEGATING and int(value["sub"]) != 0:
            self.delegates_to = int(value["sub"].dereference()["id"])

    @staticmethod
    def _slots(slots):
        raw_ip = int(slots["ip"])
        return _Slots(int(slots["sp"]), _code_address(raw_ip), int(slots["fp"]), raw_ip)

    def contains(self, address):
        return self.low <= address < self.high

    def title(self):
        return "%s %d (%s)" % (self.kind, self.id, self.name or "unnamed")


def _field_type(struct_type, name):
    """The type of field `name` of a struct, found in its base classes too
    (frame_base keeps `state` in its base frame_head)."""
    for field in struct_type.strip_typedefs().fields():
        if field.name == name:
            return field.type
        if field.is_base_class:
            found = _field_type(field.type, name)
            if found is not None:
                return found
    return None


def _live_frames():
    """Every live frame as _TandemFrame objects."""
    pointer_type, addresses = _frame_pointers()
    frame_type = pointer_type.target()
    state_names = _enum_names(_field_type(frame_type, "state"))
    kind_names = _enum_names(_field_type(frame_type, "kind"))
    frames = []
    problem = None
    for address in addresses[:_MAX_FRAMES]:
        try:
            frame = _TandemFrame(gdb.Value(address).cast(pointer_type).dereference(),
                                 state_names, kind_names)
        except gdb.MemoryError:
            problem = "cannot read the frame at 0x%x" % address
            break
        if frame.id == 0:
            # A listed frame always has an id, so its memory is missing.
            # gdb's gcore stops saving a mapping at the first page it cannot
            # read, and the guard pages that MADV_GUARD_INSTALL puts inside
            # a slab are such pages: the whole slab reads as zeros.
            problem = (
                "the frame at 0x%x reads as zeros: this core lacks the coroutine stacks. "
                "gdb's gcore cannot save stacks guarded with MADV_GUARD_INSTALL (Linux 6.13 "
                "and later); run the program with TANDEM_STACK_GUARD=mprotect, or use a "
                "kernel core dump" % address
            )
            break
        frames.append(frame)
    if problem is None:
        return frames
    if not frames:
        raise gdb.GdbError("tandem: " + problem)
    gdb.write("tandem: %s; the list is cut there.\n" % problem)
    return frames


def _format_size(size):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return "%d %s" % (size // scale, unit)
    return "%d B" % size


def _current_sp():
    """The stack pointer of the selected thread, or None without one."""
    try:
        return int(gdb.newest_frame().read_register(_arch_registers()[1]))
    except gdb.error:
        return None


class _InfoTandem(gdb.Command):
    """List every live tandem coroutine and task.

Usage: info tandem

One line per live frame: id, kind (coroutine or task), name ("-" when
unnamed), state (created, suspended, running, done), and the stack's range
[low, high) and usable size. A "*" marks the frame whose stack the selected
thread is on. Tasks of an event loop that have not started yet have no
frame, and are not listed."""

    def __init__(self):
        super().__init__("info tandem", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        frames = sorted(_live_frames(), key=lambda f: f.id)
        if not frames:
            gdb.write("No live tandem coroutines or tasks.\n")
            return
        sp = _current_sp()
        rows = [
            (
                "*" if sp is not None and f.contains(sp) else " ",
                str(f.id),
                f.kind,
                f.name or "-",
                f.state,
                "[0x%x, 0x%x)" % (f.low, f.high),
                _format_size(f.size),
            )
            for f in frames
        ]
        header = (" ", "Id", "Kind", "Name", "State", "Stack", "Size")
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]

        def line(row):
            # The id right-aligned, as `info threads` does; the rest left.
            cells = [row[0], row[1].rjust(widths[1])]
            cells += [row[i].ljust(widths[i]) for i in range(2, len(row))]
            return "  ".join(cells).rstrip() + "\n"

        gdb.write(line(header))
        for row in rows:
            gdb.write(line(row))


class _FrameId:
    """The frame id an unwinder returns: gdb reads its sp and pc."""

    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class _TandemUnwinder(gdb.unwinder.Unwinder):
    """Grafts a suspended coroutine's stack under the innermost frame.

    gdb cannot be told to start a backtrace at arbitrary registers without
    writing them into the thread, which a core file does not allow. So, for
    the length of one command, this unwinder claims the innermost real frame
    and says that its caller had the registers the coroutine's switch saved:
    `backtrace` then walks on into the coroutine's stack with gdb's own
    unwinders (DWARF CFI), and tandem bt prints the part past the graft.
    """

    def __init__(self):
        super().__init__("tandem")
        self.target = None  # the _Slots grafted, while armed
        self.claimed = False  # a frame was claimed since arm()
        self.level = None  # its level (None: this gdb does not tell)

    def arm(self, slots):
        self.target = slots
        self.claimed = False
        gdb.invalidate_cached_frames()

    def disarm(self):
        self.target = None
        self.claimed = False
        gdb.invalidate_cached_frames()

    def __call__(self, pending_frame):
        if self.target is None:
            return None
        # gdb asks the unwinders about one frame after another, innermost
        # first, and its inline-frame unwinder takes its pick before us: the
        # first frame we are asked about is the innermost real one. Claim it
        # and no other (should gdb ask about it again, answer the same).
        level = pending_frame.level() if hasattr(pending_frame, "level") else None
        if self.claimed and (level is None or level != self.level):
            return None
        self.claimed = True
        self.level = level
        arch = pending_frame.architecture().name()
        pc_name, sp_name, fp_name = next(
            regs for prefix, regs in _ARCH_REGISTERS.items() if arch.startswith(prefix)
        )
        slots = self.target
        sp_type = pending_frame.read_register(sp_name).type
        # The claimed frame's id takes the coroutine's sp, not its own: gdb
        # ends a backtrace ("previous frame inner to this frame") where a
        # caller's stack address lies below its callee's, and the coroutine's
        # stack may well lie below the stack of the claimed frame.
        this_pc = pending_frame.read_register(pc_name)
        frame_id = _FrameId(gdb.Value(slots.sp).cast(sp_type), this_pc)
        info = pending_frame.create_unwind_info(frame_id)
        fp_name = _frame_pointer_name(arch, fp_name, slots.raw_ip)
        for name, value in ((pc_name, slots.ip), (sp_name, slots.sp), (fp_name, slots.fp)):
            register_type = pending_frame.read_register(name).type
            info.add_saved_register(name, gdb.Value(value).cast(register_type))
        return info


_unwinder = _TandemUnwinder()
gdb.unwinder.register_unwinder(None, _unwinder, replace=True)

_LEVEL = re.compile(r"^#(\d+)\s+")


def _renumbered(text, first):
    """bt's text from frame `first` on, renumbered from 0."""
    out = []
    keep = False
    for row in text.splitlines():
        m = _LEVEL.match(row)
        if m:
            level = int(m.group(1))
            keep = level >= first
            if keep:
                # gdb's layout: "#" then the level left-aligned in 2 columns.
                row = "#%-2d %s" % (level - first, row[m.end():])
        if keep:
            out.append(row)
    return "\n".join(out) + "\n" if out else ""


def _graft_level(slots):
    """The level of the first frame with the grafted registers, or None."""
    sp_name = _arch_registers()[1]
    frame = gdb.newest_frame()
    for _ in range(10000):
        if frame is None:
            return None
        try:
            if frame.pc() == slots.ip and int(frame.read_register(sp_name)) == slots.sp:
                return frame.level()
        except gdb.error:
            return None
        frame = frame.older()
    return None


def _backtrace_from(slots, bt_args=""):
    """The text of `backtrace` for a stack suspended at slots."""
    try:
        selected = gdb.selected_frame().level()
    except gdb.error:
        raise gdb.GdbError("tandem: no stack (start the program, attach, or load a core)")
    try:
        _unwinder.arm(slots)
        first = _graft_level(slots)
        if first is None:
            raise gdb.GdbError(
                "tandem: gdb did not unwind into the saved registers (sp 0x%x, pc 0x%x); "
                "is the coroutine's stack in memory?" % (slots.sp, slots.ip)
            )
        # A frame count counts from the graft, not from the real frames.
        words = [str(int(w) + first) if w.isdigit() else w for w in bt_args.split()]
        text = gdb.execute(" ".join(["backtrace"] + words), to_string=True)
    finally:
        _unwinder.disarm()
        _select_level(selected)
    text = _renumbered(text, first)
    if "Backtrace stopped" in text and _is_aarch64() and not _has_pauth_masks():
        text += (
            "tandem: note: this target reports no pointer-authentication masks, so gdb cannot "
            "strip the PAC bits from signed return addresses (-mbranch-protection) and stops "
            "at the first one; under qemu-aarch64, debug with -cpu max,pauth=off.\n"
        )
    return text


def _has_pauth_masks():
    try:
        gdb.newest_frame().read_register("pauth_cmask")
        return True
    except (gdb.error, ValueError):
        return False


def _select_level(level):
    """Reselect the frame the user had selected (levels survive a flush)."""
    try:
        frame = gdb.newest_frame()
        while frame is not None and frame.level() < level:
            frame = frame.older()
        if frame is not None:
            frame.select()
    except gdb.error:
        pass


def _thread_on(frame):
    """The gdb thread whose stack pointer is in frame's stack, or None."""
    sp_name = _arch_registers()[1]
    original = gdb.selected_thread()
    found = None
    try:
        for thread in gdb.selected_inferior().threads():
            thread.switch()
            try:
                sp = int(gdb.newest_frame().read_register(sp_name))
            except gdb.error:
                continue
            if frame.contains(sp):
                found = thread
                break
    finally:
        if original is not None:
            original.switch()
    return found


class _TandemPrefix(gdb.Command):
    """Commands for tandem coroutines and tasks (see also: info tandem).

tandem bt ID    backtrace of a suspended coroutine or task
tandem bt all   the same for every live one"""

    def __init__(self):
        super().__init__("tandem", gdb.COMMAND_STACK, prefix=True)

    def invoke(self, arg, from_tty):
        gdb.execute("help tandem", from_tty)


class _TandemBacktrace(gdb.Command):
    """Backtrace of a tandem coroutine or task.

Usage: tandem bt ID [BACKTRACE-OPTIONS] [COUNT]
       tandem bt all [BACKTRACE-OPTIONS] [COUNT]

ID is the number `info tandem` shows. A suspended coroutine's frames are
unwound from the registers its last switch saved, from the function that
yielded down to tandem_coroutine_start, its first frame. Nothing in the
inferior is changed, so this works on core files too. Options after ID
(e.g. -full, or a frame count) are passed to `backtrace`. `all` does every
live coroutine and task.

A running coroutine's frames are on its thread's stack: `bt` in that thread
shows them. A running coroutine that resumed another one waits in that
resume: then its frames are shown from there."""

    def __init__(self):
        super().__init__("tandem bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        args = gdb.string_to_argv(arg)
        if not args:
            raise gdb.GdbError("usage: tandem bt ID [BACKTRACE-OPTIONS] (IDs: info tandem)")
        bt_args = " ".join(args[1:])
        frames = sorted(_live_frames(), key=lambda f: f.id)
        if args[0] == "all":
            for frame in frames:
                gdb.write("\n%s, %s:\n" % (frame.title().capitalize(), frame.state))
                self.show(frame, frames, bt_args)
            return
        try:
            wanted = int(args[0], 0)
        except ValueError:
            raise gdb.GdbError("tandem bt: %r is not an id (see info tandem)" % args[0])
        frame = next((f for f in frames if f.id == wanted), None)
        if frame is None:
            raise gdb.GdbError(
                "tandem bt: no live coroutine or task has id %d (see info tandem)" % wanted
            )
        self.show(frame, frames, bt_args)

    @staticmethod
    def show(frame, frames, bt_args):
        title = frame.title().capitalize()
        if frame.state == "created":
            gdb.write("%s is not started: it has no frames yet.\n" % title)
        elif frame.state == "done":
            gdb.write("%s is done: its body has ended.\n" % title)
        elif frame.state == "suspended":
            if frame.delegates_to is not None:
                sub = next((f for f in frames if f.id == frame.delegates_to), None)
                gdb.write("%s delegates to %s (yield_from); its own frames:\n"
                          % (title, sub.title() if sub else "coroutine %d" % frame.delegates_to))
            gdb.write(_backtrace_from(frame.body, bt_args))
        else:
            # Running. If it resumed another coroutine, that one's resumer
            # slots (on this frame's stack) say where it waits.
            inner = next(
                (f for f in frames
                 if f.state == "running" and f is not frame and frame.contains(f.resumer.sp)),
                None,
            )
            if inner is not None:
                gdb.write("%s is running: it waits in its resume of %s.\n" % (title, inner.title()))
                gdb.write(_backtrace_from(inner.resumer, bt_args))
                return
            thread = _thread_on(frame)
            if thread is None:
                gdb.write("%s is running: its frames are in its thread's `bt`.\n" % title)
            elif thread == gdb.selected_thread():
                gdb.write("%s is running in this thread: its frames are in `bt`.\n" % title)
            else:
                gdb.write(
                    "%s is running in thread %d: its frames are in that thread's `bt` "
                    "(thread %d, then bt).\n" % (title, thread.num, thread.num)
                )


_InfoTandem()
_TandemPrefix()
_TandemBacktrace()
