{#- state.apply jail (or a top file naming `jail`): builds the whole environment from the `jailprov` pillar.
    Order: pillar validation, removals, host files, the release (once), each prisoner's steps, start. #}
include:
  - jail.validate
  - jail.absent
  - jail.host
  - jail.release
  - jail.prisoners
  - jail.running
