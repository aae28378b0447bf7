// What an exception says about itself, for messages that name one (an
// unretrieved task failure, an exception_group's what()).
#pragma once

#include <exception>
#include <string>

#include "tandem/coroutine.hpp"
#include "tandem/task.hpp"

namespace tandem::detail {

// what() where it has one: std::exception, and tandem's cancelled_error
// and coroutine_exit, which are not std::exceptions so that
// catch (const std::exception&) lets them pass; else a phrase saying so.
inline std::string exception_text(const std::exception_ptr& e) {
  if (!e) return "no exception (a null std::exception_ptr)";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (const cancelled_error& x) {
    return x.what();
  } catch (const coroutine_exit& x) {
    return x.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

}  // namespace tandem::detail
