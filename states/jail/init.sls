{#- state.apply jail: builds the whole environment from the `jailprov` pillar. #}
include:
  - jail.validate
