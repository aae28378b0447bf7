// tandem/tandem.hpp: all of tandem in one include.
#pragma once

#include "tandem/clock.hpp"
#include "tandem/context.h"
#include "tandem/coroutine.hpp"
#include "tandem/io.hpp"
#include "tandem/locks.hpp"
#include "tandem/loop.hpp"
#include "tandem/overflow.hpp"
#include "tandem/queues.hpp"
#include "tandem/stack.hpp"
#include "tandem/streams.hpp"
#include "tandem/sync.hpp"
#include "tandem/task.hpp"
#include "tandem/task_group.hpp"
#include "tandem/threads.hpp"
#include "tandem/wait.hpp"
