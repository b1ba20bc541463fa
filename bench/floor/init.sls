{#- Salt's floor for bench/run.py: `state.apply floor` costs what any state run costs (salt-call start-up,
    loader, pillar and top rendering, the state compiler) with a single state that does nothing.  The
    formula's and the stock SLS's rerun costs are reported above this floor. #}
floor:
  test.nop
