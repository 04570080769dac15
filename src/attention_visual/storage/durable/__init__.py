"""Durable I/O shared by every storage part: atomic writes (:mod:`.atomic`), naming storage faults
(:mod:`.faults`) and size + SHA-256 records of written files (:mod:`.integrity`)."""
