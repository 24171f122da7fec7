//! Chapter 1 solution (placeholder until the chapter lands).
