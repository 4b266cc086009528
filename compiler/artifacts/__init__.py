"""What targets emit: the Jinja environment, compiling and writing files, image builds."""
