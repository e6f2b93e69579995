savedcmd_modules.order := {   echo rsvm.o; :; } > modules.order
