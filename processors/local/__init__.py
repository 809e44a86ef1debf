"""Running wabahook on one machine: embedded servers, their files, `wabahook up`."""
