// Placeholder replaced by the raw-socket patch work (patch-package + rebuild).
