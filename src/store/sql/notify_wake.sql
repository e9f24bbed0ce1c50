-- Wakes idle claimers of every process (they LISTEN conveyor_wake).
NOTIFY conveyor_wake
