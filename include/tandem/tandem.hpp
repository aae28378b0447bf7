// tandem/tandem.hpp: all of tandem in one include.
#pragma once

#include "tandem/context.h"
#include "tandem/coroutine.hpp"
#include "tandem/loop.hpp"
#include "tandem/stack.hpp"
