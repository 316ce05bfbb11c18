"""Plans, re-plans and simulations run as background jobs on Dask, calling the library."""
