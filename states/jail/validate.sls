{#- Pillar validation runs first: every other state of the formula requires it, so a bad pillar
    fails here with every error and its key path, and nothing else runs or changes. #}
jailprov-pillar-valid:
  jailprov.validated:
    - name: pillar
