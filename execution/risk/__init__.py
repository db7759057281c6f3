"""Risk numerics shared by the veto checks and the published risk snapshot."""
