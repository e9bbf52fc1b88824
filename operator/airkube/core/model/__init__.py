"""The run and what the kernel knows and says about it: the run being planned, the pods
observed, the actions and events a pass asks for, the reasons it gives, and the result of
a pass. Plain values, no logic beyond reading them."""
