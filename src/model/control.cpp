#include "model/control.hpp"

namespace conveyor {

const char* to_string(JobAction a) {
    switch (a) {
    case JobAction::cancel:
        return "cancel";
    case JobAction::retry:
        return "retry";
    case JobAction::remove:
        return "delete";
    }
    return "?";
}

} // namespace conveyor
