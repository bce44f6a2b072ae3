import multiprocessing
from contextlib import redirect_stdout
import syncstream


def worker_process(buffer: syncstream.LineProcMirror):
    '''Define the workder_process'''
    try:
        with redirect_stdout(buffer):
            print('Message', 'item')
    except Exception as err:
        buffer.send_error(err)
    else:
        buffer.send_eof()


if __name__ == '__main__':
    pbuf = syncstream.LineProcBuffer(10)  # Initialization.
    with multiprocessing.Pool(4) as pool:
        pool.map_async(
            worker_process,
            tuple(pbuf.mirror for _ in range(4))
        )  # Run 4 procs.
        pbuf.wait()  # Wait the eof signals.

    messages = pbuf.read()  # Get results.
    for mitem in messages:
        print(mitem)
