-- optbench.lua: the optimizer benchmark on the command line (gd.bench), the
-- same as `gdlua -m gd.bench ...`; installed as gdlua-optbench.
--
--   gdlua scripts/optbench.lua run --problems quadratic_deep,digits_mlp --optimizers RMSProp,Adam \
--       [--flavors pytorch,tf1] [--schedules none,CosineAnnealingLR] [--budget quick|full|STEPS] \
--       [--seeds 3] [--trials 36] [--search grid|random] [--space 'momentum=0,0.9'] [--workers N] \
--       --db results.db
--   gdlua scripts/optbench.lua report results.db [--out report/] [--formats svg,png]
--   gdlua scripts/optbench.lua problems        # lists the problems and what each needs
local status = require("gd.bench.cli").main({...})
if status ~= 0 then os.exit(status) end
