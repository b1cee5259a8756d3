"""What the scripts share (standard library only: scripts/bench.sh runs it outside the venv).

- api: one HTTP request, and a client of a local gateway and the emulator under it
- mail: the links Roster mailed, read from the emulator
- tenant: a tenant whose owner set a password and signed in

The scripts import it as `roster_py` (scripts/ is on sys.path when one of them runs).
"""
