// intg::result<T>: a value or an intg::error, returned by every operation on the hot path.
#pragma once

#include <intg/core/error.hpp>

#include <boost/system/result.hpp>

namespace intg {

/// A value of type T or an intg::error. `value()` throws intg::exception when it holds an error.
template <class T>
using result = boost::system::result<T, error>;

}  // namespace intg
