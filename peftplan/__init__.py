"""The `peftplan` console command: sub-commands of each layer, each loaded only when it runs."""
