import asyncio, sys
from bench.lifecycles import run_phase
from bench.skeleton import run_skeleton
async def main(n):
    for i in range(n):
        p = await run_phase("one", 60, 20, False)
        s = await run_skeleton(60, 20)
        print(f"jianyi {p.cases_per_s:.2f} skeleton {s:.2f} ratio {p.cases_per_s/s:.2f} closed {p.closed} errors {len(p.errors)}", flush=True)
asyncio.run(main(int(sys.argv[1]) if len(sys.argv)>1 else 2))
